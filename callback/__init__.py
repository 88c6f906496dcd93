"""Satisfaction callbacks (回访) and queue callbacks: scheduling, calling windows, retries and
the survey flow. The ticket side of a callback result is `hotline.tickets.services.record_callback`.

Not built yet (the callback issue).
"""
