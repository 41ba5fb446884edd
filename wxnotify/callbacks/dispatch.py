"""Where domain apps subscribe to inbound messages.

A handler runs inside the transaction that stores the message, so a message is applied exactly as
often as it is stored: once. Handlers must be quick (WeChat waits at most 5 s for the answer);
slow work goes to the queue with `transaction.on_commit`. A handler may return a passive reply;
the first one returned is sent back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from wechat.messages import Message
from wechat.replies import Reply

if TYPE_CHECKING:
    from wxnotify.accounts.models import OfficialAccount
    from wxnotify.callbacks.models import InboundMessage

M = TypeVar("M", bound=Message)
Handler = Callable[["OfficialAccount", M, "InboundMessage"], Reply | None]

_handlers: dict[type[Message], list[Handler[Any]]] = defaultdict(list)


def handles(*types: type[M]) -> Callable[[Handler[M]], Handler[M]]:
    def register(handler: Handler[M]) -> Handler[M]:
        for message_type in types:
            if handler not in _handlers[message_type]:
                _handlers[message_type].append(handler)
        return handler

    return register


@contextmanager
def handling(handler: Handler[M], *types: type[M]) -> Iterator[Handler[M]]:
    """`handler` answers `types` too while the block runs, then no more: a test adds a slow or a replying
    handler this way (the registry stays this module's own)."""
    handles(*types)(handler)
    try:
        yield handler
    finally:
        for message_type in types:
            if handler in _handlers[message_type]:
                _handlers[message_type].remove(handler)


def dispatch(account: OfficialAccount, message: Message, inbound: InboundMessage) -> Reply | None:
    reply: Reply | None = None
    for handler in _handlers.get(type(message), []):
        result = handler(account, message, inbound)
        if reply is None:
            reply = result
    return reply
