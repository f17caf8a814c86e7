"""forgeline."""
