"""Random feed documents for differential tests: RSS and Atom items built from a pool of
the elements real feeds use, in random order and number (duplicates, empty values,
relative URIs, mojibake, media groups, xml:base, comments, unknown namespaces, ...)."""

from __future__ import annotations

import random

RSS_ITEM_CHILDREN = [
    "<description xml:base='http://b.org/d/'>&lt;a href='rel'&gt;based&lt;/a&gt;</description>",
    "<description>&lt;a href='/abs'&gt;linked&lt;/a&gt;</description>",
    "<title>T {n}</title>",
    "<title></title>",
    "<title>Caf\u00c3\u00a9 \u0093q\u0094</title>",
    "<title>&lt;b&gt;bold&lt;/b&gt; &amp;amp;</title>",
    "<dc:title>DT</dc:title>",
    "<link>http://e.org/{n}?a=1&amp;b=2</link>",
    "<link>/rel/{n}</link>",
    "<link></link>",
    "<atom:link href='/al/{n}'/>",
    "<atom:link rel='self' href='/s'/>",
    "<atom:link rel='alternate' type='text/html' href='http://x.org/{n}'/>",
    "<guid>http://e.org/g/{n}</guid>",
    "<guid isPermaLink='false'>g{n}</guid>",
    "<guid>rel{n}</guid>",
    "<guid isPermaLink='true'>/p/{n}</guid>",
    "<description>desc {n}</description>",
    "<description><![CDATA[<p>html &amp; {n}</p>]]></description>",
    "<description></description>",
    "<content:encoded><![CDATA[<p>full {n}</p><img src='/i.png'>]]></content:encoded>",
    "<content:encoded></content:encoded>",
    "<dc:description>dcd</dc:description>",
    "<pubDate>Fri, 02 Jan 2026 10:00:00 +0300</pubDate>",
    "<pubDate>garbage</pubDate>",
    "<pubDate></pubDate>",
    "<dc:date>2026-01-01T00:00:00Z</dc:date>",
    "<dcterms:modified>2026-01-03T00:00:00Z</dcterms:modified>",
    "<dcterms:created>2025-01-03</dcterms:created>",
    "<dcterms:issued>2025-02-03T01:02:03+01:00</dcterms:issued>",
    "<author>a@e.org (A)</author>",
    "<dc:creator>Crea</dc:creator>",
    "<dc:creator></dc:creator>",
    "<itunes:author>IA</itunes:author>",
    "<category>c</category>",
    "<category domain='d'>c2</category>",
    "<dc:subject>s</dc:subject>",
    "<enclosure url='/e.mp3' length='1' type='audio/mpeg'/>",
    "<comments>/c</comments>",
    "<media:title>MT</media:title>",
    "<media:title></media:title>",
    "<media:description>MD</media:description>",
    "<media:group><media:title>GT</media:title><media:description type='html'>&lt;b&gt;GD&lt;/b&gt;</media:description><media:content url='/v.mp4'/></media:group>",
    "<media:content url='/m.jpg' medium='image'><media:title>CT</media:title><media:description>CD</media:description></media:content>",
    "<media:thumbnail url='/t.jpg'/>",
    "<media:credit role='author'>cr</media:credit>",
    "<media:keywords>a, b</media:keywords>",
    "<itunes:summary>IS</itunes:summary>",
    "<itunes:subtitle>ISub</itunes:subtitle>",
    "<itunes:duration>1:00</itunes:duration>",
    "<itunes:explicit>no</itunes:explicit>",
    "<image><url>/im.jpg</url><title>IMT</title></image>",
    "<image>/im2.jpg</image>",
    "<source url='http://s.org/'>Src</source>",
    "<language>fr</language>",
    "<dc:language>de</dc:language>",
    "<slash:comments>3</slash:comments>",
    "<wfw:commentRss>/cr</wfw:commentRss>",
    "<feedburner:origLink>http://o.org/{n}</feedburner:origLink>",
    "<post-id xmlns='com-wordpress:feed-additions:1'>{n}</post-id>",
    "<x:thing xmlns:x='http://x.example/'>t</x:thing>",
    "<x:thing2 xmlns:x='http://x.example/' a='1'>t</x:thing2>",
    "<!-- a comment -->",
    "<title>with <!-- c --> comment</title>",
    "<description xml:base='http://b.org/d/'>based</description>",
    "<rights>r</rights>",
    "<contributor><name>cn</name></contributor>",
]
ATOM_ENTRY_CHILDREN = [
    "<summary type='html' xml:base='http://s.org/'>&lt;a href='s'&gt;sl&lt;/a&gt;</summary>",
    "<title>AT {n}</title>",
    "<title type='html'>&lt;i&gt;AH&lt;/i&gt;</title>",
    "<title type='text'>a &lt; b</title>",
    "<title></title>",
    "<id>tag:e,{n}</id>",
    "<id>/relid/{n}</id>",
    "<link href='/l/{n}'/>",
    "<link rel='alternate' href='http://a.org/{n}'/>",
    "<link rel='related' href='/r'/>",
    "<link rel='enclosure' href='/e'/>",
    "<link rel='alternate' type='application/pdf' href='/pdf'/>",
    "<link>textlink{n}</link>",
    "<updated>2026-01-02T00:00:00Z</updated>",
    "<published>2026-01-01T00:00:00+02:00</published>",
    "<updated>bad</updated>",
    "<author><name>N</name></author>",
    "<author><name>N2</name><email>n@e.org</email></author>",
    "<author><email>e@e.org</email><uri>/u</uri></author>",
    "<author>plain</author>",
    "<author><name></name></author>",
    "<summary>S</summary>",
    "<summary type='html'>&lt;p&gt;SH&lt;/p&gt;</summary>",
    "<summary></summary>",
    "<content type='html'>&lt;p&gt;C {n}&lt;/p&gt;</content>",
    "<content>plain c</content>",
    "<content type='text'>&lt;tt&gt;</content>",
    "<content src='/ext'/>",
    "<content type='html' xml:base='sub/'>&lt;a href='x'&gt;x&lt;/a&gt;</content>",
    "<category term='t'/>",
    "<rights>r</rights>",
    "<contributor><name>c</name></contributor>",
    "<media:title>MT</media:title>",
    "<media:group><media:description>GD</media:description></media:group>",
    "<dc:creator>DC</dc:creator>",
    "<dc:date>2025-05-05T05:05:05Z</dc:date>",
]
RSS_HEAD = (
    "<?xml version='1.0' encoding='utf-8'?>\n<rss version='{v}' xmlns:dc='http://purl.org/dc/elements/1.1/' "
    "xmlns:dcterms='http://purl.org/dc/terms/' xmlns:content='http://purl.org/rss/1.0/modules/content/' "
    "xmlns:media='http://search.yahoo.com/mrss/' xmlns:atom='http://www.w3.org/2005/Atom' "
    "xmlns:itunes='http://www.itunes.com/dtds/podcast-1.0.dtd' xmlns:slash='http://purl.org/rss/1.0/modules/slash/' "
    "xmlns:wfw='http://wellformedweb.org/CommentAPI/' xmlns:feedburner='http://rssnamespace.org/feedburner/ext/1.0'{rootattr}>"
)
CHANNEL_CHILDREN = [
    "<title>Feed</title>",
    "<title></title>",
    "<link>http://f.org/</link>",
    "<description>fd</description>",
    "<language>en-us</language>",
    "<ttl>60</ttl>",
    "<ttl> 5 </ttl>",
    "<image><url>/f.png</url><title>FI</title><link>/</link></image>",
    "<itunes:summary>fis</itunes:summary>",
    "<itunes:owner><itunes:name>o</itunes:name><itunes:email>o@e.org</itunes:email></itunes:owner>",
    "<atom:link rel='self' href='/self'/>",
    "<dc:language>ru</dc:language>",
    "<lastBuildDate>Fri, 02 Jan 2026 10:00:00 GMT</lastBuildDate>",
    "<managingEditor>m@e.org</managingEditor>",
    "<content:encoded>cc</content:encoded>",
    "<summary>fs</summary>",
]
ATOM_HEAD = (
    "<?xml version='1.0' encoding='utf-8'?>\n<feed xmlns='http://www.w3.org/2005/Atom' xmlns:media='http://search.yahoo.com/mrss/' "
    "xmlns:dc='http://purl.org/dc/elements/1.1/'{rootattr}>"
)
ATOM_FEED_CHILDREN = [
    "<title>AF</title>",
    "<subtitle>sub</subtitle>",
    "<id>urn:f</id>",
    "<updated>2026-01-01T00:00:00Z</updated>",
    "<link href='/'/>",
    "<author><name>FA</name></author>",
    "<rights>r</rights>",
    "<icon>/i.ico</icon>",
    "<generator uri='/g'>gen</generator>",
]


def document(rng: random.Random, n: int) -> bytes:
    """One random RSS 2.0 (0.9x) or Atom 1.0 document; `n` numbers its items."""
    if rng.random() < 0.6:
        rootattr = rng.choice(
            ["", " xml:lang='en'", " xml:base='http://base.example/x/'", " lang='de_AT'"]
        )
        parts = [
            RSS_HEAD.format(v=rng.choice(["2.0", "0.91", "0.92", ""]), rootattr=rootattr),
            "<channel>",
        ]
        for i in range(rng.randint(1, 4)):
            for _ in range(rng.randint(0, 3)):
                parts.append(rng.choice(CHANNEL_CHILDREN))
            kids = [
                rng.choice(RSS_ITEM_CHILDREN).format(n=n * 10 + i) for _ in range(rng.randint(0, 8))
            ]
            parts.append("<item>" + "".join(kids) + "</item>")
        parts.append("</channel></rss>")
    else:
        rootattr = rng.choice(["", " xml:lang='en'", " xml:base='http://base.example/x/'"])
        parts = [ATOM_HEAD.format(rootattr=rootattr)]
        for i in range(rng.randint(1, 4)):
            for _ in range(rng.randint(0, 2)):
                parts.append(rng.choice(ATOM_FEED_CHILDREN))
            ebase = rng.choice(["", "", " xml:base='e/'"])
            kids = [
                rng.choice(ATOM_ENTRY_CHILDREN).format(n=n * 10 + i)
                for _ in range(rng.randint(0, 8))
            ]
            parts.append(f"<entry{ebase}>" + "".join(kids) + "</entry>")
        parts.append("</feed>")
    return "".join(parts).encode("utf-8")
