"""Teacher/admin view: today's usage per user, top up, reset, change plan. Every action re-checks admin."""

from __future__ import annotations

import gradio as gr

from vidgen.jobs import Services
from vidgen.ui.session import current_user

COLUMNS = ["user", "source", "plan", "used (s)", "held (s)", "limit (s)", "previews"]


def _require_admin(services: Services, request: gr.Request) -> None:
    if not services.ledger.is_admin(current_user(services, request)):
        raise gr.Error("Only admins (teachers) can use this view.", title="Not allowed")


def _usage_rows(services: Services) -> list[list]:
    return [
        [row.user_id, row.source, row.plan, round(row.used_s, 1), round(row.reserved_s, 1),
         "unlimited" if row.limit_s is None else round(row.limit_s, 1), row.previews]
        for row in services.ledger.usage_today()
    ]


def build_admin_tab(services: Services) -> gr.Tab:
    with gr.Tab("Admin", id="admin", visible=False) as tab:
        gr.Markdown("Today's usage per user. Top up, reset or change a user's plan.")
        table = gr.Dataframe(headers=COLUMNS, interactive=False)
        refresh = gr.Button("Refresh")
        with gr.Row():
            user_id = gr.Textbox(label="User id (first column)")
            seconds = gr.Number(label="Top up (s)", value=30)
            plan = gr.Dropdown(sorted(services.ledger.plans.names), label="Plan")
        with gr.Row():
            top_up = gr.Button("Top up")
            reset = gr.Button("Reset today's usage")
            set_plan = gr.Button("Set plan")

    def show(request: gr.Request):
        _require_admin(services, request)
        return _usage_rows(services)

    def do_top_up(user, amount, request: gr.Request):
        _require_admin(services, request)
        services.ledger.top_up(user.strip(), float(amount))
        return _usage_rows(services)

    def do_reset(user, request: gr.Request):
        _require_admin(services, request)
        services.ledger.reset_user(user.strip())
        return _usage_rows(services)

    def do_set_plan(user, new_plan, request: gr.Request):
        _require_admin(services, request)
        services.ledger.set_plan(user.strip(), new_plan)
        return _usage_rows(services)

    refresh.click(show, None, table, api_name="admin_usage")
    top_up.click(do_top_up, [user_id, seconds], table, api_name="admin_top_up")
    reset.click(do_reset, [user_id], table, api_name="admin_reset")
    set_plan.click(do_set_plan, [user_id, plan], table, api_name="admin_set_plan")
    return tab
