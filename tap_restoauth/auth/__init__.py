"""Who the tap is: authentication methods, token grants and stores, Secret Manager."""
