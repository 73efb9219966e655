"""The order table, kept in a JSON file. It stands in for the DynamoDB table `Order` of the
original (key: OrderID). ORDERS_FILE names the file (default: orders.json in this folder).
Writes go through a lock file and a rename, so two functions running at once do not lose
each other's changes."""

import contextlib
import fcntl
import json
import os

PATH = os.environ.get("ORDERS_FILE") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "orders.json")


@contextlib.contextmanager
def table():
    """The orders, by OrderID, for reading and changing; saved on leaving the block."""
    with open(PATH + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(PATH) as f:
                orders = json.load(f)
        except FileNotFoundError:
            orders = {}
        yield orders
        tmp = PATH + ".tmp"
        with open(tmp, "w") as f:
            json.dump(orders, f, indent=2)
        os.replace(tmp, PATH)
