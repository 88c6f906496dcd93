"""Tickets (工单): the workflow as a table (`workflow`), the services that open and move
tickets (`services`), the desk's queries and moves (`desk`), the 部件/事件 taxonomy
(`taxonomy`), voicemail drafts (`voicemail`) and the KPIs (`kpi`). Time limits on the Chinese
working calendar are `hotline.worktime`, which the configuration also needs."""
