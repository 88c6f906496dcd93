"""Tickets (工单): the workflow as a table (`workflow`), the services that open and move
tickets (`services`), time limits on the Chinese working calendar (`worktime`), the 部件/事件
taxonomy (`taxonomy`), voicemail drafts (`voicemail`) and the KPIs (`kpi`)."""
