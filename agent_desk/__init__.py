"""The web desk for operators, supervisors, callback staff, departments and administrators,
and the Open311 API. Mounts on the HTTP site of `hotline.web.site`.

Not built yet (the desk issue).
"""
