// uwsk-bench-asio-echo: the Boost.Asio baseline. A TCP and UDP echo server on 127.0.0.1 and ::1
// written the way Asio's own echo examples are: one io_context run by one thread, a session
// object per connection with its own buffer, async_read_some followed by async_write of what
// was read. UDP keeps `udp_slots` receives posted per socket, each echoing its datagram with
// async_send_to before it receives again.
//
// Usage: uwsk-bench-asio-echo [--port 30112] [--lifetime SECONDS]
#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>
#include <utility>

#include <boost/asio.hpp>

#include "bench_common.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

// Per-connection buffer: large enough for bulk transfers to move in big chunks, small enough
// that 10,000 idle sessions stay cheap (only touched pages are resident).
constexpr std::size_t session_buffer = 16 * 1024;
constexpr int udp_slots = 16;

class session : public std::enable_shared_from_this<session> {
public:
  explicit session(tcp::socket socket) : socket_(std::move(socket)) {}

  void start() { read(); }

private:
  void read() {
    auto self = shared_from_this();
    socket_.async_read_some(asio::buffer(data_),
                            [this, self](boost::system::error_code error, std::size_t size) {
                              if (!error) {
                                write(size);
                              }
                            });
  }

  void write(std::size_t size) {
    auto self = shared_from_this();
    asio::async_write(socket_, asio::buffer(data_, size),
                      [this, self](boost::system::error_code error, std::size_t) {
                        if (!error) {
                          read();
                        }
                      });
  }

  tcp::socket socket_;
  std::array<char, session_buffer> data_;
};

class tcp_server {
public:
  tcp_server(asio::io_context &context, const tcp::endpoint &endpoint)
      : acceptor_(context, endpoint.protocol()) {
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    if (endpoint.protocol() == tcp::v6()) {
      acceptor_.set_option(asio::ip::v6_only(true));
    }
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    accept();
  }

private:
  void accept() {
    acceptor_.async_accept([this](boost::system::error_code error, tcp::socket socket) {
      if (!error) {
        std::make_shared<session>(std::move(socket))->start();
      }
      if (error != asio::error::operation_aborted) {
        accept();
      }
    });
  }

  tcp::acceptor acceptor_;
};

class udp_server {
public:
  udp_server(asio::io_context &context, const udp::endpoint &endpoint)
      : socket_(context, endpoint.protocol()) {
    socket_.set_option(udp::socket::reuse_address(true));
    if (endpoint.protocol() == udp::v6()) {
      socket_.set_option(asio::ip::v6_only(true));
    }
    socket_.bind(endpoint);
    for (auto &slot : slots_) {
      receive(slot);
    }
  }

private:
  struct slot {
    udp::endpoint peer;
    std::array<char, 65536> data;
  };

  void receive(slot &s) {
    socket_.async_receive_from(asio::buffer(s.data), s.peer,
                               [this, &s](boost::system::error_code error, std::size_t size) {
                                 if (error == asio::error::operation_aborted) {
                                   return;
                                 }
                                 if (error) {
                                   receive(s);
                                   return;
                                 }
                                 send(s, size);
                               });
  }

  void send(slot &s, std::size_t size) {
    socket_.async_send_to(asio::buffer(s.data, size), s.peer,
                          [this, &s](boost::system::error_code error, std::size_t) {
                            if (error != asio::error::operation_aborted) {
                              receive(s);
                            }
                          });
  }

  udp::socket socket_;
  std::array<slot, udp_slots> slots_;
};

} // namespace

int main(int argc, char **argv) {
  unsigned short port;
  double lifetime;
  try {
    uwsk::bench::options opts(argc, argv);
    port = static_cast<unsigned short>(opts.integer("port", 30112));
    lifetime = opts.number("lifetime", 3600);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "asio-echo: %s\nusage: %s [--port N] [--lifetime SECONDS]\n", e.what(),
                 argv[0]);
    return 1;
  }
  uwsk::bench::raise_file_limit();
  alarm(static_cast<unsigned>(lifetime));
  try {
    asio::io_context context(1);
    const auto v4 = asio::ip::address_v4::loopback();
    const auto v6 = asio::ip::address_v6::loopback();
    tcp_server tcp4(context, tcp::endpoint(v4, port));
    tcp_server tcp6(context, tcp::endpoint(v6, port));
    auto udp4 = std::make_unique<udp_server>(context, udp::endpoint(v4, port));
    auto udp6 = std::make_unique<udp_server>(context, udp::endpoint(v6, port));
    asio::signal_set signals(context, SIGINT, SIGTERM);
    signals.async_wait([&context](boost::system::error_code, int) { context.stop(); });
    context.run();
  } catch (const std::exception &e) {
    std::fprintf(stderr, "asio-echo: %s\n", e.what());
    return 1;
  }
  return 0;
}
