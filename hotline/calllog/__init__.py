"""The call log: one record per call and its timeline (`records`), queue-callback requests
(`callbacks`), and the write-ahead journal that keeps them while the database is away
(`journal`)."""
