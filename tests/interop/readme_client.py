# The reference's README client example, unchanged but for the address
# (taken from the command line) and a print of what it got.
import sys
import net_queue as nq

options = nq.CommunicatorOptions(netloc=nq.NetworkLocation(sys.argv[1], int(sys.argv[2])))

with nq.new(purpose=nq.Purpose.CLIENT, options=options) as queue:
    queue.put("Hello, Server!")
    message = queue.get()

print(repr(message.data), flush=True)
