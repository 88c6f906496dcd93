"""Open311 GeoReport v2: city apps and mini-programs list services, post problems that become
tickets (source open311) and follow them. Mounted by the desk role at /open311/ (docs/open311.md)."""
