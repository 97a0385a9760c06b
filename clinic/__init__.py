"""The clinic core: settings, approved content, the routing table and the database models.

It knows neither Rasa nor Sanic, so every part of the project (the Rasa
server's add-ons, the action server, the web app, the editor tools) can depend
on it without depending on each other.
"""
