"""The runtime: the attack service (one batch loop over registered job kinds), the result cache, the time
estimates and the app's default views (precompute). Nothing below ``sem_core.serve`` imports it."""
