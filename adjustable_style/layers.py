"""`adjustable_style.layers` is `adjustable_style.model.layers`; this name stays for files.

Saved `.keras` files name the module of each custom class, and the shipped
models (and any stylizer saved before the package was cut by stage) say
`adjustable_style.layers`: `keras.saving.load_model` imports it to find the
classes when nothing has registered them yet. New code imports
`adjustable_style.model.layers`.
"""

from adjustable_style.model.layers import *  # noqa: F403
