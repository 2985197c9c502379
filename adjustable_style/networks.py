"""`adjustable_style.networks` is `adjustable_style.model.networks`; this name stays for files.

Saved `.keras` files name the module of each custom class, and the shipped
models (and any stylizer saved before the package was cut by stage) say
`adjustable_style.networks`: `keras.saving.load_model` imports it to find the
classes when nothing has registered them yet. New code imports
`adjustable_style.model.networks`.
"""

from adjustable_style.model.networks import *  # noqa: F403
