"""The official `elasticsearch` Python client against a real `strata serve`.

Run by tests/tests/elasticsearch.rs as
`python elasticsearch_client.py URL INDEX`: it calls the API the way an
application would (info, indices.get_mapping, bulk, search, msearch, count)
and prints, as one JSON object, what the client read back; the Rust test
compares every number with its own oracle over the events it sent.
"""

import json
import sys

from elasticsearch import Elasticsearch


def main():
    url, index = sys.argv[1], sys.argv[2]
    client = Elasticsearch(url, request_timeout=60)
    out = {}
    out["version"] = client.info()["version"]["number"]
    mapping = client.indices.get_mapping(index=index)
    out["types"] = {
        name: field["type"]
        for name, field in mapping[index]["mappings"]["properties"].items()
    }

    bulk = client.bulk(
        operations=[
            {"index": {"_index": index}},
            {"timestamp": "2024-01-05T00:00:00Z", "service": "bulk", "status": 200,
             "user": "b1", "bytes": 7, "duration_ms": 1.5, "message": "bulk one"},
            {"create": {"_index": index, "_id": "given"}},
            {"timestamp": "2024-01-05T00:01:00Z", "service": "bulk", "status": 500,
             "user": "b2", "bytes": 8, "duration_ms": 2.5, "message": "bulk two"},
            {"index": {"_index": index}},
            {"service": "bulk", "message": "no time"},
            {"index": {"_index": "no_such_index"}},
            {"timestamp": "2024-01-05T00:02:00Z"},
        ],
        refresh=True,
    )
    out["bulk"] = {
        "errors": bulk["errors"],
        "statuses": [next(iter(item.values()))["status"] for item in bulk["items"]],
        "ids": [next(iter(item.values()))["_id"] for item in bulk["items"]][1],
    }

    query = {"query_string": {"query": 'message:"kernel panic"', "analyze_wildcard": True}}
    found = client.search(
        index=index,
        size=3,
        sort=[{"timestamp": {"order": "desc"}}],
        query=query,
        highlight={"fields": {"message": {}}, "pre_tags": ["<b>"], "post_tags": ["</b>"]},
        aggs={"by_service": {"terms": {"field": "service", "size": 10},
                             "aggs": {"bytes": {"sum": {"field": "bytes"}}}}},
    )
    out["search"] = {
        "total": found["hits"]["total"]["value"],
        "relation": found["hits"]["total"]["relation"],
        "times": [hit["_source"]["timestamp"] for hit in found["hits"]["hits"]],
        "highlights": [hit["highlight"]["message"][0] for hit in found["hits"]["hits"]],
        "bytes_by_service": {
            bucket["key"]: [bucket["doc_count"], bucket["bytes"]["value"]]
            for bucket in found["aggregations"]["by_service"]["buckets"]
        },
    }

    answers = client.msearch(
        searches=[
            {"index": index},
            {"size": 0, "query": {"term": {"service": "bulk"}}},
            {"index": "no_such_index"},
            {"query": {"match_all": {}}},
        ]
    )
    out["msearch"] = [
        answer["hits"]["total"]["value"] if "hits" in answer else answer["error"]["type"]
        for answer in answers["responses"]
    ]
    out["count"] = client.count(index=index, query={"term": {"status": 500}})["count"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
