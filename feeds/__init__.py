"""feeds: records out: render RSS/Atom/JSON Feed/OPML/HTML, publish, the HTTP app."""
