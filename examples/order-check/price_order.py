"""Price an order: reads the task input as JSON on stdin, writes the result as JSON on stdout."""
import json
import sys

order = json.load(sys.stdin)
total = sum(item["price"] * item["quantity"] for item in order["items"])
json.dump({"orderId": order["orderId"], "total": total}, sys.stdout)
