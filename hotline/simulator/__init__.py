"""The simulated Asterisk: Asterisk 22's side of AGI (`agi`: a caller placing calls into our
FastAGI server or classic script) and of the manager interface (`ami`: an AMI server), both
speaking the exact bytes of the lab transcripts (tests/fixtures/asterisk/).

One implementation, shared: the tests drive the service with it, and `hotline serve --demo`
(`demo`) runs the service against it so that a newcomer sees calls arrive with no Asterisk.
"""
