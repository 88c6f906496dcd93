"""Supervisors' figures: reports over a period (`report`) and the live wallboard (`wallboard`).

Every figure comes from `hotline.tickets.kpi`; this package only chooses periods and groups,
validates what a browser asks for, and lays the figures out for pages and exports.
"""
