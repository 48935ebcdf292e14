"""What adapters use to reach services: one botocore session (``aws``), secret references
(``secrets``), and the error readings shared by the adapters of one provider
(``bedrock_errors``, ``openai_http``)."""
