"""perf14: the record page shows a page of its related records, with a link to the next.

It rendered every link: a record linked 10,000 times made a 5 MB page, all of its related
records read and titled for each view. Now at most ``RELATED_PAGE`` (100) show, and "More
related records" leads on; following it shows each link once.
"""
from __future__ import annotations

import re

from conftest import PersonPlugin
from test_ui_support import Browser, text

RELATED_PAGE = 100


def _related_section(page: str) -> str:
    return re.search(r'<section class="related" id="related">(.*?)</section>', page, re.S).group(1)


def _names(section: str) -> list[str]:
    return re.findall(r'href="/r/person/[0-9a-f]+">(P\d+)</a>', section)


def test_record_page_lists_a_page_of_related_records_and_links_to_more(make_platform):
    p = make_platform(PersonPlugin())
    with p.session() as s:
        hub = s.create("person", {"name": "Hub"})
        others = [s.create("person", {"name": f"P{i:03d}"}) for i in range(RELATED_PAGE + 5)]
        s.relate_many("knows", [(hub.id, o.id) for o in others])
    b = Browser(p)
    b.login()
    first = _related_section(text(b.get(f"/r/person/{hub.id}")))
    shown = _names(first)
    assert len(shown) == RELATED_PAGE
    more = re.search(r'href="([^"]*related=[^"#]+)#related">More related records</a>', first)
    assert more, first[-600:]
    second = _related_section(text(b.get(more.group(1).replace("&amp;", "&"))))
    rest = _names(second)
    assert len(rest) == 5
    assert "More related records" not in second and "First related records" in second
    assert sorted(shown + rest) == sorted(f"P{i:03d}" for i in range(RELATED_PAGE + 5))
