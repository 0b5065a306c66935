"""Making a registered model live somewhere other than this machine (Vertex AI endpoints)."""
