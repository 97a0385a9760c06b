"""The clinic's web app (Sanic): the demo clinic page with the chat widget, and the staff console."""
