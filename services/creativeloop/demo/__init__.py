"""The demo: a sample catalogue from real reviews, simulated users, and the end-to-end run."""
