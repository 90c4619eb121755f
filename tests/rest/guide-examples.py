"""The payment guide's REST examples, sent as the guide writes them, plus the Bearer token this server requires.

Run by tests/rest/guide-examples.test.ts against a real server: BASE is its address, TOKEN a token of user 123,
whose usage in 2024-01 the test records first. Each response is printed as one JSON line for the test to check;
the requests themselves are the guide's, unchanged.
"""

import json
import os

import requests

BASE = os.environ["BASE"]
headers = {"Authorization": f"Bearer {os.environ['TOKEN']}"}


def show(step, response):
    print(json.dumps({"step": step, "status": response.status_code, "body": response.json()}), flush=True)


# Create the invoice for January 2024
response = requests.post(f"{BASE}/api/v1/billing/invoice/2024-01/create?user_id=123", headers=headers)
show("create", response)
invoice_id = response.json()["invoice_id"]

# Process a payment
response = requests.post(
    f"{BASE}/api/v1/billing/invoice/{invoice_id}/pay",
    json={"payment_method_id": "pm_card_visa", "user_id": 123},
    headers=headers,
)
show("pay", response)

# Check the invoice status
response = requests.get(f"{BASE}/api/v1/billing/invoice/{invoice_id}?user_id=123", headers=headers)
show("status", response)
