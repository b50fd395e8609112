#!/usr/bin/env ruby
# frozen_string_literal: true
#
# A heat-gateway webhook receiver for Conductor (Rails) developers, in plain Ruby: standard
# library only (socket, openssl, json, net/http), no gems. WEBrick left the standard library
# in Ruby 3.0 and Rack is a gem, so the HTTP side is a small TCPServer loop; in a Rails app
# the same `Receiver#deliver` sits behind a controller action instead.
#
# What it shows:
#   * Standard Webhooks signatures: HMAC-SHA256 over "id.timestamp.body" with the whsec_
#     secret, compared in constant time; several secrets during a rotation.
#   * The timestamp window (5 minutes either way) against replays of old deliveries.
#   * De-duplication by webhook-id (delivery is at least once; the id is the feed event id).
#   * Ordering by the instance/deployment `version` (deliveries may arrive out of order).
#   * Catching up from GET /v1/events after downtime, from a cursor persisted on disk; a
#     `gap: true` answer (retention removed events) triggers a reload from GET /v1/instances.
#
# Environment:
#   PORT                 port to listen on (0 = any free one; printed on the first line)
#   HGW_URL              the gateway, e.g. http://127.0.0.1:8080
#   HGW_TOKEN            a client token, for GET /v1/events and /v1/instances
#   HGW_WEBHOOK_SECRETS  the endpoint's whsec_ secret(s), comma-separated
#   STATE_DIR            where the cursor, versions and logs are kept (default ./receiver-state)
#   HGW_START_CURSOR     where the very first catch-up starts (default 0: everything kept)
#   CATCHUP_INTERVAL_S   how often the feed is read to heal missed deliveries (default 30)
require 'fileutils'
require 'json'
require 'net/http'
require 'openssl'
require 'socket'
require 'uri'

TOLERANCE_S = 5 * 60
MAX_BODY_BYTES = 1_048_576
SEEN_KEPT = 100_000

# A delivery we refuse, with the HTTP status to answer.
class Rejected < StandardError
  attr_reader :status

  def initialize(status, message)
    super(message)
    @status = status
  end
end

# Verifies Standard Webhooks headers against one or more whsec_ secrets.
class SignatureVerifier
  def initialize(secrets)
    @keys = secrets.map { |s| s.strip.delete_prefix('whsec_').unpack1('m0') }
    raise ArgumentError, 'set HGW_WEBHOOK_SECRETS to the endpoint secret (whsec_...)' if @keys.empty?
  end

  def verify!(id, timestamp, signature, body, now: Time.now.to_i)
    raise Rejected.new(400, 'missing webhook-id, webhook-timestamp or webhook-signature') unless id && timestamp && signature
    raise Rejected.new(400, 'webhook-timestamp is not unix seconds') unless timestamp.match?(/\A\d{1,12}\z/)
    raise Rejected.new(401, 'webhook-timestamp is outside the 5 minute window') if (now - timestamp.to_i).abs > TOLERANCE_S

    signed = "#{id}.#{timestamp}.#{body}"
    expected = @keys.map { |key| [OpenSSL::HMAC.digest('SHA256', key, signed)].pack('m0') }
    given = signature.split(' ').filter_map do |part|
      version, value = part.split(',', 2)
      value if version == 'v1' && value
    end
    return if given.any? { |g| expected.any? { |e| e.bytesize == g.bytesize && OpenSSL.fixed_length_secure_compare(e, g) } }

    raise Rejected.new(401, 'no webhook-signature matches the body')
  end
end

# The receiver's memory: feed cursor, last applied version per item, ids already processed.
class State
  attr_reader :cursor

  def initialize(dir, start_cursor)
    @dir = dir
    FileUtils.mkdir_p(dir)
    @file = File.join(dir, 'state.json')
    saved = File.exist?(@file) ? JSON.parse(File.read(@file)) : {}
    @cursor = saved['cursor'] || start_cursor
    @versions = saved['versions'] || {}
    @seen = saved['seen'] || []
    @seen_set = @seen.to_h { |id| [id, true] }
    @processed = File.open(File.join(dir, 'processed.jsonl'), 'a')
  end

  def seen?(event_id) = @seen_set.key?(event_id)

  # Records one event exactly once; returns :applied, or :superseded when a newer version
  # of the same item was applied already.
  def record(event, via)
    outcome = :applied
    if event[:key] && event[:version]
      last = @versions[event[:key]] || 0
      if event[:version] <= last
        outcome = :superseded
      else
        @versions[event[:key]] = event[:version]
        # Here Conductor would update its instance/deployment row from event[:data].
      end
    end
    @seen << event[:id]
    @seen_set[event[:id]] = true
    @seen_set.delete(@seen.shift) while @seen.size > SEEN_KEPT
    @processed.puts(JSON.generate({ event: event[:id], type: event[:type], via: via, outcome: outcome, key: event[:key], version: event[:version] }))
    @processed.flush
    save
    outcome
  end

  def version_of(key) = @versions[key] || 0

  def raise_version(key, version)
    @versions[key] = version if version > version_of(key)
  end

  def cursor=(value)
    @cursor = value
    save
  end

  def save
    tmp = "#{@file}.tmp"
    File.write(tmp, JSON.generate({ cursor: @cursor, versions: @versions, seen: @seen }))
    File.rename(tmp, @file)
  end
end

# Turns a webhook body or a feed event into what the receiver needs.
def normalize(id, type, data)
  data ||= {}
  current = data['current'].is_a?(Hash) ? data['current'] : nil
  previous = data['previous'].is_a?(Hash) ? data['previous'] : nil
  subject = data['id'] || current&.dig('id') || previous&.dig('id')
  kind = type.split('.').first
  version = current&.dig('version') || previous&.dig('version')
  key = subject && %w[instance deployment].include?(kind) ? "#{kind}:#{subject}" : nil
  { id: id, type: type, key: key, version: version.is_a?(Integer) ? version : nil, data: data }
end

# Everything behind one lock: webhook deliveries and feed catch-up go through `process`.
class Receiver
  def initialize(env)
    @verifier = SignatureVerifier.new(env.fetch('HGW_WEBHOOK_SECRETS', '').split(',').reject(&:empty?))
    @gateway = URI(env.fetch('HGW_URL'))
    @token = env.fetch('HGW_TOKEN')
    @state = State.new(env.fetch('STATE_DIR', './receiver-state'), env.fetch('HGW_START_CURSOR', '0'))
    @requests = File.open(File.join(env.fetch('STATE_DIR', './receiver-state'), 'requests.jsonl'), 'a')
    @lock = Mutex.new
  end

  # One webhook request: verify, then process once. Returns the HTTP status to answer.
  def deliver(headers, body)
    id = headers['webhook-id']
    @verifier.verify!(id, headers['webhook-timestamp'], headers['webhook-signature'], body)
    payload = JSON.parse(body)
    outcome = process(normalize(id, payload['type'], payload['data']), 'webhook')
    log_request(id, true, outcome)
    204
  rescue Rejected => e
    log_request(id, false, e.message)
    e.status
  rescue JSON::ParserError
    log_request(id, false, 'body is not JSON')
    400
  end

  def process(event, via)
    @lock.synchronize do
      next :duplicate if @state.seen?(event[:id])

      @state.record(event, via)
    end
  end

  # Reads the feed from the persisted cursor to its end; safe to run at any time.
  def catch_up
    loop do
      page = get_json("/v1/events?after=#{URI.encode_www_form_component(@state.cursor)}&limit=500")
      resync if page['gap']
      page['events'].each { |e| process(normalize(e['id'], e['type'], e['data']), 'feed') }
      @lock.synchronize { @state.cursor = page['next'] }
      break if page['events'].empty?
    end
  end

  # Stops processing: waits for the event in progress, then holds the lock so nothing is
  # half-recorded when the process exits (a delivery cut off now is retried by the gateway).
  def stop
    @lock.lock
  end

  private

  # Retention removed events we never saw: take the current versions from the reads.
  def resync
    warn 'receiver: events were removed before we read them; reloading instances'
    cursor = nil
    loop do
      page = get_json("/v1/instances?limit=1000#{cursor ? "&cursor=#{URI.encode_www_form_component(cursor)}" : ''}")
      @lock.synchronize { page['items'].each { |i| @state.raise_version("instance:#{i['id']}", i['version']) } }
      cursor = page['next']
      break unless cursor
    end
  end

  def get_json(path)
    uri = URI.join(@gateway, path)
    response = Net::HTTP.start(uri.host, uri.port, use_ssl: uri.scheme == 'https', open_timeout: 5, read_timeout: 30) do |http|
      http.get(uri.request_uri, 'Authorization' => "Bearer #{@token}", 'Accept' => 'application/json')
    end
    raise "GET #{uri.path} answered #{response.code}" unless response.is_a?(Net::HTTPSuccess)

    JSON.parse(response.body)
  end

  def log_request(id, verified, detail)
    @lock.synchronize do
      @requests.puts(JSON.generate({ webhookId: id, verified: verified, detail: detail.to_s }))
      @requests.flush
    end
  end
end

# A minimal HTTP/1.1 server: one request per connection, body by Content-Length.
def serve(server, receiver)
  loop do
    socket = server.accept
    Thread.new(socket) do |client|
      request_line = client.gets("\r\n")&.strip
      headers = {}
      while (line = client.gets("\r\n")) && line != "\r\n"
        name, value = line.split(':', 2)
        headers[name.strip.downcase] = value.to_s.strip if value
      end
      length = headers['content-length'].to_i
      status =
        if request_line.nil? || !request_line.start_with?('POST ')
          405
        elsif length > MAX_BODY_BYTES
          413
        else
          body = length.positive? ? client.read(length) : ''
          receiver.deliver(headers, body.force_encoding(Encoding::UTF_8))
        end
      reason = { 204 => 'No Content', 400 => 'Bad Request', 401 => 'Unauthorized', 405 => 'Method Not Allowed', 413 => 'Payload Too Large' }[status]
      client.write("HTTP/1.1 #{status} #{reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    rescue StandardError => e
      warn "receiver: connection failed: #{e.message}"
    ensure
      client.close
    end
  end
end

if $PROGRAM_NAME == __FILE__
  receiver = Receiver.new(ENV)
  server = TCPServer.new('127.0.0.1', Integer(ENV.fetch('PORT', '0')))
  $stdout.puts "listening on #{server.addr[1]}"
  $stdout.flush
  interval = Float(ENV.fetch('CATCHUP_INTERVAL_S', '30'))
  # Catch up at once (deliveries missed while we were down), then now and then.
  Thread.new do
    loop do
      begin
        receiver.catch_up
      rescue StandardError => e
        warn "receiver: catch-up failed, retrying: #{e.message}"
      end
      sleep interval
    end
  end
  %w[INT TERM].each do |signal|
    trap(signal) do
      Thread.new do
        receiver.stop
        exit!(0)
      end
    end
  end
  serve(server, receiver)
end
