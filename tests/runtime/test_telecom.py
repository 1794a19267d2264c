"""specs/telecom.domain on a small account of its own: each side's tools, the sync block that
keeps the phone in step with the account, the payment flow across both sides, a network
search and the assertions."""

from __future__ import annotations

from pathlib import Path

import pytest

from envscale.runtime.domain import Domain
from envscale.runtime.environment import Environment
from envscale.runtime.load import load

SPEC = Path(__file__).resolve().parents[2] / "specs" / "telecom.domain"

DATA = {
    "Plan": [
        {
            "plan_id": "P1",
            "name": "Basic",
            "data_limit_gb": 5.0,
            "price_per_month": 40.0,
            "data_refueling_price_per_gb": 2.0,
        }
    ],
    "Customer": [
        {
            "customer_id": "C1",
            "full_name": "Ada Byron",
            "date_of_birth": "1990-01-01",
            "email": "ada@example.com",
            "phone_number": "555-0100",
            "address": {"street": "1 Main St", "city": "Town", "state": "CA", "zip_code": "90000"},
            "account_status": "Active",
            "line_ids": ["L1"],
            "bill_ids": ["B1", "B2"],
        }
    ],
    "Line": [
        {
            "line_id": "L1",
            "phone_number": "555-0101",
            "status": "Active",
            "plan_id": "P1",
            "data_used_gb": 4.0,
        }
    ],
    "Bill": [
        {
            "bill_id": "B1",
            "customer_id": "C1",
            "period_start": "2025-01-01",
            "period_end": "2025-01-31",
            "issue_date": "2025-01-05",
            "total_due": 40.0,
            "due_date": "2025-01-19",
            "status": "Overdue",
        },
        {
            "bill_id": "B2",
            "customer_id": "C1",
            "period_start": "2025-03-01",
            "period_end": "2025-03-31",
            "issue_date": "2025-03-01",
            "total_due": 0.0,
            "due_date": "2025-03-15",
            "status": "Draft",
        },
    ],
    "Phone": [
        {
            "phone_id": "device",
            "active_apn_settings": {},
            "app_statuses": {
                "messaging": {
                    "app_name": "messaging",
                    "permissions": {"sms": True, "storage": True, "phone": True},
                }
            },
        }
    ],
    "Surroundings": [{"surroundings_id": "surroundings"}],
    "VpnProfile": [
        {
            "profile_id": "default",
            "server_address": "10.0.0.1",
            "protocol": "WireGuard",
            "server_performance": "good",
        }
    ],
}


@pytest.fixture(scope="module")
def domain() -> Domain:
    return load(SPEC)


@pytest.fixture
def env(domain: Domain) -> Environment:
    env = domain.environment(DATA)
    assert env.call("set_user_info", {"name": "Ada", "phone_number": "555-0101"}, "internal").ok
    return env


def _surroundings(env: Environment) -> dict:
    return env.export()["Surroundings"][0]


def test_each_side_has_tau2s_number_of_tools(domain: Domain) -> None:
    assert len(domain.side_tools["agent"]) == 13
    assert len(domain.side_tools["user"]) == 30
    assert "set_data_usage" in domain.side_tools["internal"]
    assert "follow_account" in domain.sync_tools
    assert "assert_can_send_mms" in domain.assertions


def test_sync_follows_the_line(env: Environment) -> None:
    assert _surroundings(env)["line_active"] is True
    assert env.call(
        "set_data_usage", {"customer_id": "C1", "line_id": "L1", "data_used_gb": 6}, "internal"
    ).ok
    assert _surroundings(env)["mobile_data_usage_exceeded"] is True
    result = env.call("refuel_data", {"customer_id": "C1", "line_id": "L1", "gb_amount": 1.5})
    assert result.content == {
        "message": "Successfully added 1.5 GB of data for line L1 for $3.00",
        "new_data_refueling_gb": "1.5",
        "charge": "3.0",
    }
    assert _surroundings(env)["mobile_data_usage_exceeded"] is False
    draft = next(b for b in env.export()["Bill"] if b["bill_id"] == "B2")
    assert draft["total_due"] == 3.0 and draft["line_items"][0]["item_type"] == "Charge"
    assert env.call("suspend_line", {"customer_id": "C1", "line_id": "L1", "reason": "x"}).ok
    assert _surroundings(env)["line_active"] is False


def test_a_payment_goes_from_the_agent_to_the_phone_and_back(env: Environment) -> None:
    user = "user"
    assert env.call("check_payment_request", side=user).text == "No payment request has been made."
    sent = env.call("send_payment_request", {"customer_id": "C1", "bill_id": "B1"})
    assert sent.text == "Payment request sent to the customer for bill B1"
    again = env.call("send_payment_request", {"customer_id": "C1", "bill_id": "B2"})
    assert again.text == "Error: A bill is already awaiting payment for this customer"
    assert env.call("check_payment_request", side=user).text == (
        "You have a payment request for bill B1 of 40.0 USD."
    )
    assert env.call("make_payment", side=user).text == (
        "Payment of 40.0 USD has been made for bill B1."
    )
    assert _surroundings(env)["payment_request"] is None
    assert next(b for b in env.export()["Bill"] if b["bill_id"] == "B1")["status"] == "Paid"
    assert env.assertion("assert_no_overdue_bill", {"overdue_bill_id": "B1"}).content is True


def test_the_phone_searches_for_a_network(env: Environment) -> None:
    user = "user"
    assert env.call("check_status_bar", side=user).text == (
        "Status Bar: 📶³ Good | 5G | 📱 Data Enabled | 🔋 80%"
    )
    toggled = env.call("toggle_airplane_mode", side=user)
    assert toggled.text == "Airplane Mode is now ON.\nStatus Bar: ✈️ Airplane Mode | 🔋 80%"
    assert env.assertion("assert_service_status", {"expected_status": "no_service"}).content
    assert env.assertion("assert_mobile_data_status", {"expected_status": False}).content
    env.call("toggle_airplane_mode", side=user)
    preferred = env.call("set_network_mode_preference", {"mode": "2g_only"}, side=user)
    assert preferred.text.endswith("📶¹ Poor | 2G | 📱 Data Enabled | 🔋 80%")
    assert env.assertion("assert_can_send_mms", {"expected_status": False}).content
    speed = env.call("run_speed_test", side=user).text
    assert speed.startswith("Speed Test Result: 0.05 Mbps (Very Poor).")
    assert env.call("check_network_status", side=user).text.splitlines()[4] == (
        "Cellular Network Type: 2G"
    )


def test_the_vpn_connects_with_the_default_profile(env: Environment) -> None:
    assert env.call("connect_vpn", side="user").ok
    assert env.call("check_vpn_status", side="user").text == (
        "VPN is ON and connected. Details: {'server_address': '10.0.0.1', 'protocol': "
        "'WireGuard', 'server_performance': <PerformanceLevel.GOOD: 'good'>}"
    )
    assert env.call("connect_vpn", side="user").text == "VPN already connected."


def test_details_by_id_render_any_record(env: Environment) -> None:
    plan = env.call("get_details_by_id", {"id": "P1"})
    assert plan.text == (
        '{"plan_id": "P1", "name": "Basic", "data_limit_gb": 5.0, "price_per_month": 40.0, '
        '"data_refueling_price_per_gb": 2.0}'
    )
    assert (
        env.call("get_details_by_id", {"id": "X1"}).text == "Error: Unknown ID format or type: X1"
    )
    wrong = env.call("get_details_by_id", {"id": 7})
    assert wrong.text == "Error: 'int' object has no attribute 'startswith'"
