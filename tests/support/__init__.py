"""Reusable test infrastructure: private servers (RabbitMQ node, PostgreSQL cluster, moto S3) and fault tools
(an S3 fault-injecting HTTP proxy, a small tmpfs, process-tree kills). Never touches the shared servers."""
