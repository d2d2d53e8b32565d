#!/usr/bin/env python3
"""Verifies a captured webhook delivery with the public `standardwebhooks` package, unchanged.

Usage: webhook-verify.py CAPTURE.json, where the file holds
{"secret": "whsec_...", "headers": {"webhook-id": ..., "webhook-timestamp": ..., "webhook-signature": ...},
 "body": "<the raw body>"}. Exits 0 and prints the event type when the signature verifies, 1 otherwise.
The timestamp must be within five minutes of now, as the package requires.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        capture = json.load(f)
    try:
        event = Webhook(capture["secret"]).verify(capture["body"], capture["headers"])
    except WebhookVerificationError as e:
        print(f"NOT verified: {e}", file=sys.stderr)
        return 1
    print(f"verified: {event['type']} {event['id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
