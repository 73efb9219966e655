"""The order table, kept in a JSON file. It stands in for the DynamoDB table `Order` of the
original (key: OrderID). ORDERS_FILE names the file; by default it is in the system's
temporary folder, as a Lambda function may only write to /tmp, and never in this
repository. Writes go through a lock file and a rename, so two functions running at once do
not lose each other's changes."""

import contextlib
import fcntl
import json
import os
import tempfile

PATH = os.environ.get("ORDERS_FILE") or os.path.join(tempfile.gettempdir(), "baton-order-approval", "orders.json")


@contextlib.contextmanager
def table():
    """The orders, by OrderID, for reading and changing; saved on leaving the block."""
    os.makedirs(os.path.dirname(PATH), exist_ok=True)
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
