"""The WeChat Official Account protocol, with no I/O policy and no Django.

Bytes and dicts in, frozen dataclasses out (and back). The Django apps and the
simulator (`wxsim`) both build on it. Architecture invariant: nothing in this
package imports Django.
"""
