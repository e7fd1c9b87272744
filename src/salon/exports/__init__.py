"""Conversation writers: one module per export format, each a pure function from the
conversation, its messages and its files to the bytes of one file (``services.exporting``
loads the data and picks the writer)."""
