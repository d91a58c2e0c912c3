"""`tap-restoauth-probe URL`: a stream block guessed from an API's answers, for APIs with no document.

`page` reads one page (records path, keys, what could lead to the next page); `pages`
lists the ways to the next page and checks them against page 2; `cli` sends at most
five requests, all to the probed URL's origin, and prints the block and the evidence.
"""
