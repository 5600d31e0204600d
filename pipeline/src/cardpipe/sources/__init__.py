"""Fixed sources: the PostgreSQL event journal and the RabbitMQ topology."""
