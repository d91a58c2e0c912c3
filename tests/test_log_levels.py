"""The SDK's noisy lines are DEBUG for every handler; other lines pass untouched."""

from __future__ import annotations

import logging

from tap_restoauth.sync.log_levels import Demote


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_demoted_lines_are_dropped_by_every_handler_unless_debug_is_on():
    logger = logging.getLogger("tap-restoauth.orders")
    logger.propagate = False
    demote = Demote()
    handlers = [_Collect(), _Collect()]
    for handler in handlers:
        handler.addFilter(demote)
        logger.addHandler(handler)
    try:
        logger.setLevel(logging.INFO)
        logger.info("Beginning sync of 'orders' in full_table mode with context keys: ('user_id',)")
        logger.info("orders: started (full table)")
        shown = [[r.getMessage() for r in h.records] for h in handlers]
        assert shown == [["orders: started (full table)"]] * 2

        logger.setLevel(logging.DEBUG)
        logger.info("Beginning sync of 'orders' in full_table mode")
        assert all(h.records[-1].levelname == "DEBUG" for h in handlers)
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
