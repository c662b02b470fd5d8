"""FirstPoint custom actions, discovered with ``rasa run actions --actions bot.actions``.

One module per feature; each action is a few lines calling plain modules in
``knowledge/`` and ``firstpoint/``.
"""
