"""The demo (`make demo`, `python -m demo`): a hospital account filled with fourteen months of life, on the
simulator, with the web app and the worker running. It stands outside the product's apps: it drives them
and the simulator the way a hospital and its patients would, and nothing in the product imports it."""
