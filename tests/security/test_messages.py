"""Finding the texts of a request body (OpenAI and Anthropic shapes) and writing them back."""

from security.messages import segments, text_places, write_back


def test_it_reads_and_rewrites_an_anthropic_body_with_a_tool_result():
    body = {
        "system": [{"type": "text", "text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Fetch it."}]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [{"type": "text", "text": "page text"}],
                    }
                ],
            },
        ],
    }
    places = text_places(body)
    assert [(s.role, s.text) for s in segments(places)] == [
        ("system", "Be brief."),
        ("user", "Fetch it."),
        ("tool", "page text"),
    ]
    write_back(places, 2, "[REDACTED]")
    assert body["messages"][1]["content"][0]["content"][0]["text"] == "[REDACTED]"


def test_it_reads_openai_parts_and_embedding_inputs():
    chat = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {}}],
            }
        ]
    }
    assert [s.text for s in segments(text_places(chat))] == ["hi"]
    embeddings = {"input": ["one", "two"]}
    places = text_places(embeddings)
    write_back(places, 1, "2")
    assert embeddings["input"] == ["one", "2"]
    assert [s.text for s in segments(text_places({"input": "solo"}))] == ["solo"]
