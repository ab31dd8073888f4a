"""Outbound contact: SMS and calls to handlers (签收 reminders, 催办), satisfaction
callbacks (回访) to citizens. Depends on ``ticketing``; the core never imports this.

Work is durable rows in ``outbound_tasks`` derived from ticket state by the planner and
claimed by workers with a lease (docs/outbound.md).
"""
