"""One router per resource: identify, species, model, health; chat when installed."""
