"""Extensions that run inside the Rasa server: NLU safety components, response generator, policy, channel."""
