"""The sending engine. `engine.py` depends only on the ports in `ports.py`: a store of deliveries and a
messenger (plus a rate limiter). `memory.py` implements them in memory for unit tests;
`django_store.py` and `wechat_messenger.py` are the real ones. Nothing here imports a view."""
