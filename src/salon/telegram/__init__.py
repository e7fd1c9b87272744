"""The Telegram bot: Salon's chat and sharing in a Telegram chat (spec 004).

``api`` speaks the Bot API over HTTP, ``bot`` answers one update, ``runner`` gets updates by
long polling (or registers the webhook that ``web/api/telegram.py`` receives).
"""

# Where Telegram posts updates in webhook mode. (The package's modules load only when the bot
# runs: a server without it loads neither them nor the HTTP client.)
WEBHOOK_PATH = "/telegram/webhook"
