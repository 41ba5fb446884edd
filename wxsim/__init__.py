"""wxsim: an offline WeChat for Official Accounts — the API, simulated patients, signed callbacks.

It depends only on `wechat/` (the protocol) and aiohttp; it never imports the product. The demo,
the tests and the benchmarks of wxnotify run against it; anyone building for Official Accounts can
use it on its own (`python -m wxsim serve`, see wxsim/README.md) and drive it from a script with its
client, `wxsim.client` (the standard library and `wechat/` only).
"""
