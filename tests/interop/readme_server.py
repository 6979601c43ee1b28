# The reference's README server example, unchanged but for the address
# (taken from the command line) and a print of what it got.
import sys
import net_queue as nq

options = nq.CommunicatorOptions(netloc=nq.NetworkLocation(sys.argv[1], int(sys.argv[2])))

with nq.new(purpose=nq.Purpose.SERVER, options=options) as queue:
    message = queue.get()
    queue.put("Hello, Client!")

print(repr(message.data), flush=True)
