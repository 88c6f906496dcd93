"""The call log: one record per call and its timeline (`records`, where dispositions are
decided), what the AMI side reports on it (`queue_events`), queue-callback requests
(`callbacks`), the write-ahead journal that keeps them while the database is away
(`journal`), and the child process that writes them for the ivr role (`child`)."""
