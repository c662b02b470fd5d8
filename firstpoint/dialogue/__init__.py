"""Plain conversation logic the Rasa actions call (no Rasa imports here)."""
