"""The learned risk model: who is at risk, how soon, and what the assistant does about it."""
