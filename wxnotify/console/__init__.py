"""The operator console's frame: base layout, navigation, account switcher, login, dashboard. Kept small."""
