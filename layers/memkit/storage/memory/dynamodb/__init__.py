"""The memory store on the shared DynamoDB table: ``store.py`` is the facade (``DynamoDBStore``)
over its parts; ``docs/dynamodb.md`` is the key design with each access pattern's requests."""
